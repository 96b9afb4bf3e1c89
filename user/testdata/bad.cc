// A trivial program, only to be linked wrongly by this folder's BUILD.

extern "C" int main(int, char**) { return 0; }
