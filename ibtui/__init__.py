"""ibtui: a keyboard-driven terminal trading console for the Interactive Brokers Web API."""

__version__ = "0.1.0"
