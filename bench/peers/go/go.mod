module leash-bench-peer

go 1.19
