import sys
sys.stdin.read()
sys.stdout.buffer.write(b'["secret-array", 1]\n\x00\xff\xfe secret-binary\n')
