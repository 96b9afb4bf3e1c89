#include "monitor/monitor.h"

#include "mm/base/format.h"

namespace kmem::monitor {
namespace {

bool Same(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

// Splits `line` in place at blanks into at most `max` words; returns how many there were (which may be
// more than `max`: the caller reports that).
unsigned Split(char* line, const char** words, unsigned max) {
  unsigned n = 0;
  for (char* p = line; *p != '\0';) {
    while (*p == ' ' || *p == '\t') *p++ = '\0';
    if (*p == '\0') break;
    if (n < max) words[n] = p;
    ++n;
    while (*p != '\0' && *p != ' ' && *p != '\t') ++p;
  }
  return n;
}

}  // namespace

void Monitor::Prompt() const { Print("kmem> "); }

Action Monitor::Feed(char c) {
  const bool lf_after_cr = c == '\n' && after_cr_;
  after_cr_ = c == '\r';
  if (lf_after_cr) return Action::kContinue;
  if (c == '\r' || c == '\n') {
    Print("\n");
    line_[len_] = '\0';
    Action a = Action::kContinue;
    if (overflow_) {
      Print("monitor: line longer than %zu characters ignored\n", kMaxLine);
    } else {
      a = Execute(line_);
    }
    len_ = 0;
    overflow_ = false;
    if (a == Action::kContinue) Prompt();
    return a;
  }
  if (c == '\b' || c == 0x7f) {
    if (len_ > 0 && !overflow_) {
      --len_;
      Print("\b \b");
    }
    return Action::kContinue;
  }
  if (c < ' ' || c > '~') return Action::kContinue;  // other control bytes mean nothing here
  Print("%c", c);
  if (len_ == kMaxLine) {
    overflow_ = true;
  } else {
    line_[len_++] = c;
  }
  return Action::kContinue;
}

Action Monitor::Execute(const char* text) {
  char line[kMaxLine + 1];
  size_t i = 0;
  for (; text[i] != '\0' && i < kMaxLine; ++i) line[i] = text[i];
  line[i] = '\0';
  const char* words[kMaxWords];
  unsigned n = Split(line, words, kMaxWords);
  if (n == 0) return Action::kContinue;
  const char* name = words[0];
  if (Same(name, "exit") || Same(name, "quit")) {
    if (n == 1) return Action::kExit;
    Print("monitor: %s takes no argument\n", name);
    return Action::kContinue;
  }
  if (Same(name, "help")) {
    Help();
    return Action::kContinue;
  }
  const Command* c = Find(name);
  if (c == nullptr) {
    Print("monitor: unknown command '%s'; 'help' lists them\n", name);
    return Action::kContinue;
  }
  uint64_t count = 0;
  if (c->arg == ArgKind::kNone && n != 1) {
    Print("monitor: %s takes no argument\n", c->name);
    return Action::kContinue;
  }
  if (c->arg == ArgKind::kWords) {
    if (n - 1 < c->min || n - 1 > c->max) {
      Print("monitor: %s takes %lu to %lu words\n", c->name, c->min, c->max);
      return Action::kContinue;
    }
    c->run_words(ctx_, n - 1, words + 1);
    return Action::kContinue;
  }
  if (c->arg == ArgKind::kCount) {
    if (n != 2) {
      Print("monitor: %s takes one count from %lu to %lu\n", c->name, c->min, c->max);
      return Action::kContinue;
    }
    if (!ParseCount(*c, words[1], &count)) return Action::kContinue;
  }
  c->run(ctx_, count);
  return Action::kContinue;
}

const Command* Monitor::Find(const char* name) const {
  for (size_t i = 0; i < ncommands_; ++i) {
    if (Same(commands_[i].name, name)) return &commands_[i];
  }
  return nullptr;
}

void Monitor::Help() const {
  Print("commands:\n");
  for (size_t i = 0; i < ncommands_; ++i) {
    const Command& c = commands_[i];
    Print("  %-10s %s %s\n", c.name, c.arg == ArgKind::kCount ? "N" : " ", c.help);
  }
  Print("  %-10s   this list\n", "help");
  Print("  %-10s   leave the monitor; the boot goes on to its end\n", "exit, quit");
}

bool Monitor::ParseCount(const Command& c, const char* word, uint64_t* n) const {
  uint64_t v = 0;
  const char* p = word;
  for (; *p >= '0' && *p <= '9'; ++p) {
    unsigned d = static_cast<unsigned>(*p - '0');
    if (v > (c.max - d) / 10) break;  // past max: stop before the value could overflow
    v = v * 10 + d;
  }
  if (p == word || *p != '\0' || v < c.min || v > c.max) {
    Print("monitor: %s takes a count from %lu to %lu, not '%s'\n", c.name, c.min, c.max, word);
    return false;
  }
  *n = v;
  return true;
}

}  // namespace kmem::monitor
