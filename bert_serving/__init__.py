"""bert-as-service's import paths, served by bert_tf2: `from bert_serving.client import BertClient`.

A shim, so bert-as-service users' code runs unchanged against `bert-serving-start` (bert_tf2's HTTP
server). Do not install it beside the real `bert-serving-client`/`bert-serving-server` packages: both
own the `bert_serving` name.
"""
