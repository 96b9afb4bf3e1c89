// The COM1 serial console: the kernel's only output device. 115200 baud, 8N1, polled.
#pragma once

#include <stddef.h>

namespace kmem::boot {

void SerialInit();
// Writes `len` bytes, turning "\n" into "\r\n" for terminals.
void SerialWrite(const char* text, size_t len);
// Waits for one byte from the line and returns it (polled; used when a test holds the kernel still).
char SerialRead();
// The next received byte into *c, or false at once when none has arrived.
bool SerialTryRead(char* c);

}  // namespace kmem::boot
