// The kernel command line's words (kmem.memtest, kmem.panic, kmem.fault=null, ...).
#pragma once

namespace kmem::boot {

// Whether `word` appears in `cmdline` as a whole blank-separated word.
inline bool CmdlineHas(const char* cmdline, const char* word) {
  for (const char* p = cmdline; *p != '\0'; ++p) {
    if (p != cmdline && p[-1] != ' ') continue;
    unsigned i = 0;
    while (word[i] != '\0' && p[i] == word[i]) ++i;
    if (word[i] == '\0' && (p[i] == '\0' || p[i] == ' ')) return true;
  }
  return false;
}

}  // namespace kmem::boot
