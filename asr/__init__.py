"""A BiLSTM-CTC recognizer for speech and handwritten text lines."""

__version__ = "0.1.0"
