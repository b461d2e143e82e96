"""The infrastructure driver: Terraform (python-terraform), plan report, costs, Lambda zip, the emulator."""
