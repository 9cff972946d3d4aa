"""The original run_squad.py's library names, for code written against it.

    from bert_tf2 import squad, tokenization
    examples = squad.read_squad_examples("train-v1.1.json", is_training=True)
    features = squad.convert_examples_to_features(examples, tokenizer, max_seq_length=384, doc_stride=128,
                                                  max_query_length=64, is_training=True)
    squad.write_predictions(examples, features, results, 20, 30, True, "predictions.json", ...)

They live in the span-QA family's folder (`bert_tf2.tasks.squad`: `data` reads files into examples
and features, `predictions` turns logits into answers, `metrics` scores them) and are re-exported here.
"""

from bert_tf2.tasks.squad.data import (  # noqa: F401  (the original's names)
    FIRST_UNIQUE_ID, DocSpan, FeatureWriter, InputFeatures, SquadExample, _check_is_max_context,
    _improve_answer_span, convert_examples_to_features, doc_pieces, is_whitespace, load_squad_json,
    answer_token_span, make_doc_spans, make_example, read_squad_examples, split_doc_tokens)
from bert_tf2.tasks.squad.predictions import (  # noqa: F401
    RawResult, _compute_softmax, _get_best_indexes, compute_predictions, get_final_text, orig_span_text,
    write_predictions)
