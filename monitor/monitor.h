// The serial console's monitor: a line editor and a command table, freestanding so that the kernel runs it
// over its serial line and host tests run it over scripted input. The kernel's side (boot/monitor.cc) only
// supplies the command table and feeds it bytes.
//
// A line is split into blank-separated words; the first names a command, whose argument (none, or one
// decimal count within the command's bounds) is checked before it runs. An unknown command, a bad or
// missing argument and an overlong line each get one line `monitor: ...` and the prompt again. `help`,
// `exit` and `quit` are the monitor's own.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kmem::monitor {

enum class ArgKind : uint8_t {
  kNone,   // the command takes no argument
  kCount,  // one decimal number from Command::min to Command::max
  kWords,  // from Command::min to Command::max words, passed as they are to run_words
};

struct Command {
  const char* name;
  const char* help;  // one line for `help`
  ArgKind arg;
  uint64_t min, max;                    // kCount's bounds
  void (*run)(void* ctx, uint64_t n);   // n is the count for kCount, 0 otherwise; null for kWords
  void (*run_words)(void* ctx, unsigned n, const char* const* words) = nullptr;  // kWords' handler
};

enum class Action : uint8_t { kContinue, kExit };

class Monitor {
 public:
  static constexpr size_t kMaxLine = 80;
  static constexpr unsigned kMaxWords = 8;

  // `commands[0..n)` outlive the monitor; `ctx` is passed to every handler.
  Monitor(const Command* commands, size_t n, void* ctx) : commands_(commands), ncommands_(n), ctx_(ctx) {}

  // Prints the prompt; the kernel calls it once before the first Feed.
  void Prompt() const;
  // One byte from the line: echoed, with backspace (BS or DEL) erasing one character; CR or LF ends the
  // line (CR LF counts once), which then runs and is followed by a new prompt unless it was exit.
  Action Feed(char c);
  // Runs one line (without its end): parses, checks and dispatches it.
  Action Execute(const char* line);

 private:
  const Command* Find(const char* name) const;
  void Help() const;
  // The word as a count within the command's bounds; false (after an error line) otherwise.
  bool ParseCount(const Command& c, const char* word, uint64_t* n) const;

  const Command* commands_;
  size_t ncommands_;
  void* ctx_;
  char line_[kMaxLine + 1] = {};
  size_t len_ = 0;
  bool overflow_ = false;  // the line grew past kMaxLine: it is dropped at its end
  bool after_cr_ = false;  // the LF of a CR LF pair ends nothing
};

}  // namespace kmem::monitor
