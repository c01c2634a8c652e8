"""msp-nlp: check adult safeguarding case notes for Making Safeguarding Personal evidence."""

__version__ = "0.1.0"
