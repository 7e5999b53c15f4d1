"""The baseline: all-MiniLM-L6-v2 served the way a Flash user serves it today, sentence-transformers
(CPU torch) behind FastAPI on uvicorn, with the same routes and JSON as the Rust worker's `api`
endpoint. For bench.py only (never installed in CI).

    MODEL_DIR=/tmp/minilm uvicorn python_server:app --host 127.0.0.1 --port 8001

EMBED_NOOP_MODEL=1 (benchmarks only, as in the Rust worker): every text is answered with the same
unit vector without running the model (still loaded), so bench.py --noop measures the serving alone.
"""

import os

from fastapi import FastAPI
from pydantic import BaseModel
from sentence_transformers import SentenceTransformer

model = SentenceTransformer(os.environ["MODEL_DIR"], device="cpu")
NOOP = os.environ.get("EMBED_NOOP_MODEL", "0") == "1"
UNIT = [384 ** -0.5] * 384
app = FastAPI()


class EmbedRequest(BaseModel):
    texts: list[str]


class SimilarityRequest(BaseModel):
    a: str
    b: str


def encode(texts):
    if NOOP:
        return [list(UNIT) for _ in texts]
    return model.encode(texts, normalize_embeddings=True, convert_to_numpy=True).tolist()


# Plain `def`: FastAPI runs it on its thread pool, as a Flash handler doing CPU work would.
@app.post("/embed")
def embed(req: EmbedRequest):
    return {"embeddings": encode(req.texts)}


@app.post("/similarity")
def similarity(req: SimilarityRequest):
    a, b = encode([req.a, req.b])
    return {"score": sum(x * y for x, y in zip(a, b))}


@app.get("/ping")
def ping():
    return {"status": "healthy"}
