"""The embedding server (`server`, dynamic `batching`), bert-as-service's client (`client`) and its
`bert-serving-start` command (`start`)."""
