module clipper-kit.local/loadgen

go 1.24.0
