"""Dense retrieval: the shared-tower dual encoder and its training job, an ANN index, Recall@K."""
