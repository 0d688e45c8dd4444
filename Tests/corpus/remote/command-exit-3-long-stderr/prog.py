import sys
sys.stdin.read()
sys.stderr.write("boom: the LMS refused the token\nsecond line\n" + "x" * 5000 + "TAIL-CUT-OFF")
sys.exit(3)
