#include "arch/x86_64/boot/serial.h"

#include <stdint.h>

#include "arch/x86_64/io.h"

namespace kmem::boot {
namespace {

constexpr uint16_t kCom1 = 0x3f8;
constexpr uint16_t kData = 0, kIntrEnable = 1, kFifoCtl = 2, kLineCtl = 3, kModemCtl = 4, kLineStatus = 5;
constexpr uint8_t kDlab = 0x80, k8N1 = 0x03, kTxEmpty = 0x20, kRxReady = 0x01;
constexpr uint16_t kDivisor115200 = 1;

void Put(char c) {
  while ((x86::Inb(kCom1 + kLineStatus) & kTxEmpty) == 0) {
  }
  x86::Outb(kCom1 + kData, static_cast<uint8_t>(c));
}

}  // namespace

void SerialInit() {
  x86::Outb(kCom1 + kIntrEnable, 0);  // polled: no interrupts
  x86::Outb(kCom1 + kLineCtl, kDlab);
  x86::Outb(kCom1 + kData, kDivisor115200 & 0xff);
  x86::Outb(kCom1 + kIntrEnable, kDivisor115200 >> 8);
  x86::Outb(kCom1 + kLineCtl, k8N1);
  x86::Outb(kCom1 + kFifoCtl, 0xc7);   // enable and clear FIFOs
  x86::Outb(kCom1 + kModemCtl, 0x03);  // DTR, RTS
}

void SerialWrite(const char* text, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    if (text[i] == '\n') Put('\r');
    Put(text[i]);
  }
}

char SerialRead() {
  char c;
  while (!SerialTryRead(&c)) {
  }
  return c;
}

bool SerialTryRead(char* c) {
  if ((x86::Inb(kCom1 + kLineStatus) & kRxReady) == 0) return false;
  *c = static_cast<char>(x86::Inb(kCom1 + kData));
  return true;
}

}  // namespace kmem::boot
