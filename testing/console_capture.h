// Host tests read what mm/ code printed through kmem::Print by holding a ConsoleCapture: while one is
// alive, Print appends to it instead of writing to stdout.
#pragma once

#include <string>

namespace kmem::testing {

class ConsoleCapture {
 public:
  ConsoleCapture();
  ~ConsoleCapture();
  ConsoleCapture(const ConsoleCapture&) = delete;
  ConsoleCapture& operator=(const ConsoleCapture&) = delete;

  const std::string& text() const { return text_; }
  void Append(const char* s, size_t n) { text_.append(s, n); }

 private:
  ConsoleCapture* previous_;
  std::string text_;
};

}  // namespace kmem::testing
