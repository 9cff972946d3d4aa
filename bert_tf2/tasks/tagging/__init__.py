"""Token tagging (NER, POS): CoNLL / character-per-line files, `BertTagger` with an optional CRF."""
