"""The baseline of the queue shape: all-MiniLM-L6-v2 in a Runpod SDK handler, the way a Flash user
writes a queue worker today (`runpod.serverless.start({"handler": ...})`), answering a job
`{"input": {"texts": [...]}}` as the Rust `encode` worker does. For queue_bench.py only (never
installed in CI); run locally with the SDK's own test API:

    MODEL_DIR=/tmp/minilm python python_queue_handler.py --rp_serve_api \\
        --rp_api_host 127.0.0.1 --rp_api_port 8002
"""

import os

import runpod
from sentence_transformers import SentenceTransformer

model = SentenceTransformer(os.environ["MODEL_DIR"], device="cpu")


# A plain `def`, as in the SDK's documentation and templates.
def handler(job):
    texts = job["input"]["texts"]
    if not texts:
        return {"error": "`texts` must hold at least one text"}
    rows = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True).tolist()
    return {"embeddings": rows}


runpod.serverless.start({"handler": handler})
