#!/bin/bash
# Runs tools/memviz_test.py with Debian's python3 (the one with python3-matplotlib).
exec /usr/bin/python3 tools/memviz_test.py
