"""Corpus preparers: each turns a corpus on disk into Kaldi-style data dirs."""
