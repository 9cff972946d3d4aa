"""Span question answering: SQuAD 1.1 / 2.0 and Chinese (CMRC 2018, DRCD) reading comprehension."""
