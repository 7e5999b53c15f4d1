"""Writes reference.json: all-MiniLM-L6-v2 embeddings of fixed sentences, computed with the
reference implementation (sentence-transformers on PyTorch, CPU, float32), which the Rust
encoder must match to 1e-4 (tests/model.rs).

Run once, in a throwaway venv (never in CI; torch is large):

    python3 -m venv /tmp/st && /tmp/st/bin/pip install sentence-transformers
    examples/embeddings/fetch-model.sh /tmp/minilm
    /tmp/st/bin/python examples/embeddings/tests/reference/make_reference.py /tmp/minilm

The model directory is the one fetch-model.sh prepares (sha256 of model.safetensors checked),
so both sides read the same weights, from disk (no hub download).
"""

import hashlib
import json
import pathlib
import sys

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

SENTENCES = [
    "A man is playing a guitar.",
    "The quick brown fox jumps over the lazy dog.",
    # Longer than the others (padding in a batch), with punctuation, digits and an accent.
    "Runpod's serverless workers scale from 0 to 10 replicas in under 30 seconds, café included!",
    "",
]


def main() -> None:
    model_dir = pathlib.Path(sys.argv[1])
    weights = (model_dir / "model.safetensors").read_bytes()
    model = SentenceTransformer(str(model_dir), device="cpu")
    embeddings = model.encode(
        SENTENCES, normalize_embeddings=True, convert_to_numpy=True, batch_size=32
    )
    out = {
        "how": "examples/embeddings/tests/reference/make_reference.py",
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "model_safetensors_sha256": hashlib.sha256(weights).hexdigest(),
        "max_seq_length": model.max_seq_length,
        "sentences": SENTENCES,
        "embeddings": [[round(float(x), 7) for x in row] for row in embeddings],
    }
    path = pathlib.Path(__file__).with_name("reference.json")
    # One line per vector: a reviewable file.
    rows = ",\n  ".join(json.dumps(row) for row in out.pop("embeddings"))
    head = json.dumps(out, indent=1)[:-2]
    path.write_text(f'{head},\n "embeddings": [\n  {rows}\n ]\n}}\n')
    print(f"wrote {path}: {len(SENTENCES)} sentences x {len(embeddings[0])} dimensions")


if __name__ == "__main__":
    main()
