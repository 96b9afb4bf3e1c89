#include "monitor/monitor.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "testing/console_capture.h"

namespace kmem::monitor {
namespace {

// What the handlers were called with, in order.
struct Calls {
  std::vector<std::string> log;
};

void Mem(void* ctx, uint64_t) { static_cast<Calls*>(ctx)->log.push_back("mem"); }
void Stress(void* ctx, uint64_t n) { static_cast<Calls*>(ctx)->log.push_back("stress " + std::to_string(n)); }

void Run(void* ctx, unsigned n, const char* const* words) {
  std::string call = "run";
  for (unsigned i = 0; i < n; ++i) call += std::string(" ") + words[i];
  static_cast<Calls*>(ctx)->log.push_back(call);
}

constexpr Command kCommands[] = {
    {"mem", "memory totals", ArgKind::kNone, 0, 0, Mem},
    {"stress", "run the self-tests N times", ArgKind::kCount, 1, 100, Stress},
    {"run", "start PROGRAM [ARGS]", ArgKind::kWords, 1, 3, nullptr, Run},
};

// Feeds `input` byte by byte, as the serial line would, and returns what the monitor printed and whether
// the last byte left it.
struct Session {
  Calls calls;
  Monitor monitor{kCommands, 3, &calls};
  std::string out;
  Action last = Action::kContinue;

  explicit Session(const std::string& input) {
    testing::ConsoleCapture capture;
    monitor.Prompt();
    for (char c : input) {
      last = monitor.Feed(c);
      if (last == Action::kExit) break;
    }
    out = capture.text();
  }
};

TEST(MonitorTest, RunsCommandsAndEchoesThem) {
  Session s("mem\nstress 3\n");
  EXPECT_EQ(s.calls.log, (std::vector<std::string>{"mem", "stress 3"}));
  EXPECT_EQ(s.out, "kmem> mem\nkmem> stress 3\nkmem> ");
  EXPECT_EQ(s.last, Action::kContinue);
}

TEST(MonitorTest, WordsGoToTheirCommandWithinTheirBounds) {
  Session s("run memhog 16\nrun\nrun a b c d\nrun  hello \n");
  EXPECT_EQ(s.calls.log, (std::vector<std::string>{"run memhog 16", "run hello"}));
  EXPECT_NE(s.out.find("kmem> run\nmonitor: run takes 1 to 3 words\n"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("kmem> run a b c d\nmonitor: run takes 1 to 3 words\n"), std::string::npos) << s.out;
}

TEST(MonitorTest, CrLfEndsOneLine) {
  Session s("mem\r\n\r\nmem\r");
  EXPECT_EQ(s.calls.log, (std::vector<std::string>{"mem", "mem"}));
  EXPECT_EQ(s.out, "kmem> mem\nkmem> \nkmem> mem\nkmem> ");
}

TEST(MonitorTest, BlanksAroundWordsDoNotMatter) {
  Session s("  stress\t 7  \n");
  EXPECT_EQ(s.calls.log, (std::vector<std::string>{"stress 7"}));
}

TEST(MonitorTest, ExitAndQuitLeaveWithoutAnotherPrompt) {
  for (const char* word : {"exit\n", "quit\r\n"}) {
    Session s(word);
    EXPECT_EQ(s.last, Action::kExit) << word;
    EXPECT_EQ(s.out.find("kmem> ", 1), std::string::npos) << s.out;
  }
}

TEST(MonitorTest, UnknownCommandGetsOneLineAndThePrompt) {
  Session s("frobnicate now\nmem\n");
  EXPECT_EQ(s.out, "kmem> frobnicate now\nmonitor: unknown command 'frobnicate'; 'help' lists them\nkmem> mem\nkmem> ");
  EXPECT_EQ(s.calls.log, (std::vector<std::string>{"mem"}));
}

TEST(MonitorTest, BadCountsAreRefusedWithTheBounds) {
  Session s("stress\nstress x\nstress 0\nstress 101\nstress 3x\nstress 99999999999999999999999\nstress 1 2\n");
  EXPECT_TRUE(s.calls.log.empty());
  for (const char* bad : {"'x'", "'0'", "'101'", "'3x'", "'99999999999999999999999'"}) {
    EXPECT_NE(s.out.find(std::string("monitor: stress takes a count from 1 to 100, not ") + bad + "\n"),
              std::string::npos)
        << bad;
  }
  // The bare form and the two-argument form both get the usage line; every line is followed by a prompt.
  const std::string usage = "monitor: stress takes one count from 1 to 100\n";
  EXPECT_NE(s.out.find(usage), s.out.rfind(usage));
  EXPECT_EQ(s.out.substr(s.out.size() - 6), "kmem> ");
}

TEST(MonitorTest, ArgumentsToArgumentlessCommandsAreRefused) {
  Session s("mem 1\nexit now\n");
  EXPECT_TRUE(s.calls.log.empty());
  EXPECT_NE(s.out.find("monitor: mem takes no argument\n"), std::string::npos);
  EXPECT_NE(s.out.find("monitor: exit takes no argument\n"), std::string::npos);
  EXPECT_EQ(s.last, Action::kContinue);
}

TEST(MonitorTest, HelpListsEveryCommand) {
  Session s("help\n");
  for (const char* name : {"mem", "stress", "help", "exit, quit"}) {
    EXPECT_NE(s.out.find(std::string("  ") + name), std::string::npos) << name;
  }
  EXPECT_NE(s.out.find("stress     N run the self-tests N times"), std::string::npos) << s.out;
}

TEST(MonitorTest, BackspaceErasesOneCharacter) {
  Session s("mex\bm\nstresss\x7f 2\n\b\bmem\n");
  EXPECT_EQ(s.calls.log, (std::vector<std::string>{"mem", "stress 2", "mem"}));
}

TEST(MonitorTest, OverlongLineIsDroppedWhole) {
  std::string longline(Monitor::kMaxLine + 5, 'm');
  Session s(longline + "\nmem\n");
  EXPECT_NE(s.out.find("monitor: line longer than 80 characters ignored\n"), std::string::npos);
  EXPECT_EQ(s.calls.log, (std::vector<std::string>{"mem"}));
}

TEST(MonitorTest, ControlBytesAreIgnored) {
  Session s("m\x01" "e\x1bm\n");
  EXPECT_EQ(s.calls.log, (std::vector<std::string>{"mem"}));
}

}  // namespace
}  // namespace kmem::monitor
