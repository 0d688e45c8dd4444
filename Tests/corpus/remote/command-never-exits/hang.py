# Never exits: ignores SIGTERM, and starts a child (same process group) that ignores it too.
import os, signal, sys, time
sys.stdin.read()
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.fork() == 0:
    time.sleep(1000)
    sys.exit(0)
print('{"course": "partial", "email": "anna@example.pl"}', flush=True)
time.sleep(1000)
