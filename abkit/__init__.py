"""abkit: trustworthy A/B experiments for AI-generated product recommendation reasons."""

__version__ = "0.1.0"
