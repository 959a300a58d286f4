"""The embedded local cloud: moto, an IMDS emulator, a hypervisor and a spot market."""
