"""helm-mgmt: builds, checks and deploys the Clipper Helm charts."""

__version__ = "0.1.0"
