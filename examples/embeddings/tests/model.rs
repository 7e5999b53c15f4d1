//! The encoder against the reference implementation, semantics, batching and init failures.
//!
//! The model comes from `MODEL_DIR` when set (.ci/run prepares it with fetch-model.sh), else
//! fetch-model.sh downloads it into cargo's temporary directory for tests once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use embeddings::api::{self, MAX_TEXTS};
use embeddings::batch::Settings;
use embeddings::encoder::{cosine, Encoder};
use embeddings::model;
use flash_runtime::HandlerError;
use serde::Deserialize;

fn model_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("MODEL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("all-MiniLM-L6-v2"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fetch-model.sh");
        let status = Command::new("bash").arg(&script).arg(&dir).status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "{} {} failed ({status:?}): these tests need the model",
            script.display(),
            dir.display()
        );
        dir
    })
}

fn encoder() -> &'static Encoder {
    static ENCODER: OnceLock<Encoder> = OnceLock::new();
    ENCODER.get_or_init(|| Encoder::load(model_dir()).expect("load the model"))
}

#[derive(Deserialize)]
struct Reference {
    model_safetensors_sha256: String,
    sentences: Vec<String>,
    embeddings: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    let text = include_str!("reference/reference.json");
    serde_json::from_str(text).expect("tests/reference/reference.json")
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn embeddings_match_sentence_transformers_to_1e_4() {
    let reference = reference();
    let script = include_str!("../fetch-model.sh");
    assert!(
        script.contains(&reference.model_safetensors_sha256),
        "the reference was computed from other weights than fetch-model.sh verifies"
    );
    // All sentences in one batch (padded to the longest), then each on its own: both must
    // give sentence-transformers' vectors.
    let batched = encoder().embed(&reference.sentences).unwrap();
    assert_eq!(batched.len(), reference.sentences.len());
    for (i, (sentence, expected)) in reference
        .sentences
        .iter()
        .zip(&reference.embeddings)
        .enumerate()
    {
        assert_eq!(expected.len(), 384);
        let alone = encoder().embed(&[sentence]).unwrap().remove(0);
        for (how, got) in [("batched", &batched[i]), ("alone", &alone)] {
            let diff = max_abs_diff(got, expected);
            assert!(
                diff < 1e-4,
                "{sentence:?} ({how}): max |difference| {diff} from the reference"
            );
            let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{sentence:?}: norm {norm}");
        }
    }
}

#[test]
fn paraphrases_are_closer_than_unrelated_sentences() {
    let texts = [
        "How do I reset my password?",
        "I forgot my password and need to change it.",
        "The recipe needs two cups of flour and an egg.",
        "A cat is sleeping on the sofa.",
        "A kitten naps on the couch.",
        "Stock markets fell sharply on Monday.",
    ];
    let e = encoder().embed(&texts).unwrap();
    let sim = |i: usize, j: usize| cosine(&e[i], &e[j]);
    for (a, b, unrelated) in [(0, 1, [2, 3, 5]), (3, 4, [0, 2, 5])] {
        for u in unrelated {
            assert!(
                sim(a, b) > sim(a, u) + 0.2,
                "{:?}~{:?} = {} is not well above {:?}~{:?} = {}",
                texts[a],
                texts[b],
                sim(a, b),
                texts[a],
                texts[u],
                sim(a, u)
            );
        }
    }
    assert!(
        sim(0, 1) > 0.6 && sim(3, 4) > 0.6,
        "{} {}",
        sim(0, 1),
        sim(3, 4)
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn concurrent_requests_share_forward_passes() {
    let settings = Settings {
        max_batch: 64,
        max_wait: Duration::from_millis(300),
    };
    let model = Arc::new(model::load_from(model_dir(), settings).unwrap());
    assert_eq!(model.dimension(), 384);
    let texts: Vec<String> = (0..16)
        .map(|i| format!("request number {i} asks for an embedding"))
        .collect();
    let answers = runtime().block_on(async {
        let calls = texts.iter().map(|text| {
            let model = Arc::clone(&model);
            let text = text.clone();
            tokio::spawn(async move { api::embed(&model, vec![text]).await })
        });
        let mut answers = Vec::new();
        for call in calls.collect::<Vec<_>>() {
            answers.push(call.await.unwrap().unwrap().embeddings.remove(0));
        }
        answers
    });
    // Each caller got its own text's embedding back...
    for (text, answer) in texts.iter().zip(&answers) {
        let alone = encoder().embed(&[text]).unwrap().remove(0);
        assert!(max_abs_diff(answer, &alone) < 1e-5, "{text:?}");
    }
    // ...from fewer passes than requests.
    let passes = model.batcher().passes();
    assert!(passes < 16, "16 concurrent requests took {passes} passes");
}

#[test]
fn a_batch_never_exceeds_max_batch() {
    let settings = Settings {
        max_batch: 3,
        max_wait: Duration::from_millis(200),
    };
    let model = Arc::new(model::load_from(model_dir(), settings).unwrap());
    runtime().block_on(async {
        let calls: Vec<_> = (0..6)
            .map(|i| {
                let model = Arc::clone(&model);
                tokio::spawn(async move {
                    api::embed(&model, vec![format!("text {i}"), format!("more {i}")]).await
                })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap().unwrap().embeddings.len(), 2);
        }
    });
    // Two texts a request, at most three a pass: one request a pass.
    assert_eq!(model.batcher().passes(), 6);

    // A request with more texts than a pass holds runs alone, in passes of at most three, and
    // gets every row back in order.
    let texts: Vec<String> = (0..7).map(|i| format!("sentence {i}")).collect();
    let out = runtime()
        .block_on(api::embed(&model, texts.clone()))
        .unwrap();
    assert_eq!(out.embeddings.len(), 7);
    for (text, row) in texts.iter().zip(&out.embeddings) {
        let alone = encoder().embed(&[text]).unwrap().remove(0);
        assert!(max_abs_diff(row, &alone) < 1e-5, "{text:?}");
    }
}

#[test]
fn the_routes_answer_and_refuse_bad_input() {
    let model = model::load_from(model_dir(), Settings::default()).unwrap();
    runtime().block_on(async {
        let out = api::embed(&model, vec!["one".into(), "two".into()])
            .await
            .unwrap();
        assert_eq!(out.embeddings.len(), 2);
        assert!(out.embeddings.iter().all(|e| e.len() == 384));

        let same = api::similarity(
            &model,
            "A man plays guitar.".into(),
            "A man plays guitar.".into(),
        )
        .await
        .unwrap();
        assert!((same.score - 1.0).abs() < 1e-4, "{}", same.score);
        let close = api::similarity(
            &model,
            "A man plays guitar.".into(),
            "Someone is playing a guitar.".into(),
        )
        .await
        .unwrap();
        let far = api::similarity(
            &model,
            "A man plays guitar.".into(),
            "Quarterly tax filing deadlines.".into(),
        )
        .await
        .unwrap();
        assert!(
            close.score > far.score + 0.3,
            "{} vs {}",
            close.score,
            far.score
        );

        assert!(matches!(
            api::embed(&model, vec![]).await,
            Err(HandlerError::Client(_))
        ));
        let too_many = vec!["x".to_string(); MAX_TEXTS + 1];
        assert!(matches!(
            api::embed(&model, too_many).await,
            Err(HandlerError::Client(_))
        ));
    });
}

/// The benchmarks' no-op model (EMBED_NOOP_MODEL): a fixed unit vector for every text, and not
/// the model's answer.
#[test]
fn the_noop_model_answers_a_fixed_unit_vector_for_benchmarks_only() {
    let noop = model::load_noop_from(model_dir(), Settings::default()).unwrap();
    let texts = vec![
        "A man plays guitar.".to_string(),
        "Tax deadlines.".to_string(),
    ];
    let out = runtime()
        .block_on(api::embed(&noop, texts.clone()))
        .unwrap();
    assert_eq!(out.embeddings.len(), 2);
    assert_eq!(out.embeddings[0], out.embeddings[1]);
    assert_eq!(out.embeddings[0].len(), 384);
    assert!((cosine(&out.embeddings[0], &out.embeddings[0]) - 1.0).abs() < 1e-5);
    let real = encoder().embed(&texts[..1]).unwrap().remove(0);
    assert!(max_abs_diff(&out.embeddings[0], &real) > 0.01);
}

#[test]
fn a_missing_model_dir_is_a_clear_init_error() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-model-here");
    let _ = std::fs::remove_dir_all(&dir);
    let err = model::load_from(&dir, Settings::default())
        .err()
        .expect("an error");
    assert!(err.contains(&dir.display().to_string()), "{err}");
    assert!(err.contains("fetch-model.sh"), "{err}");
    // And `load` (the endpoint's init) reads MODEL_DIR: the default is on the Runpod volume.
    assert!(model::DEFAULT_MODEL_DIR.starts_with("/runpod-volume/"));
}

#[test]
fn a_corrupt_model_is_a_clear_init_error() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corrupt-model");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["config.json", "tokenizer.json"] {
        std::fs::copy(model_dir().join(file), dir.join(file)).unwrap();
    }
    let weights = dir.join("model.safetensors");

    // Missing, truncated (a download cut short), and garbage.
    let err = model::load_from(&dir, Settings::default()).err().unwrap();
    assert!(
        err.contains("model.safetensors") && err.contains("no such file"),
        "{err}"
    );
    let real = std::fs::read(model_dir().join("model.safetensors")).unwrap();
    std::fs::write(&weights, &real[..real.len() / 2]).unwrap();
    let err = model::load_from(&dir, Settings::default()).err().unwrap();
    assert!(err.contains("model.safetensors"), "{err}");
    std::fs::write(&weights, b"not a safetensors file at all").unwrap();
    let err = model::load_from(&dir, Settings::default()).err().unwrap();
    assert!(err.contains("model.safetensors"), "{err}");

    // A config that is not BERT's names config.json.
    std::fs::write(dir.join("config.json"), "{\"vocab_size\": \"many\"}").unwrap();
    let err = model::load_from(&dir, Settings::default()).err().unwrap();
    assert!(err.contains("config.json"), "{err}");
}
