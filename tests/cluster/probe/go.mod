module clipper-kit.local/probe

go 1.24.0
