//! The `compute` endpoint: vector statistics (a stand-in for GPU kernels), plus `/info` and
//! `/health`.

use flash_runtime::HandlerError;
use serde::{Deserialize, Serialize};

/// The largest vector `POST /compute` accepts.
pub const MAX_VALUES: usize = 1_000_000;

/// What to compute. In the JSON body: `"sum"`, `"mean"`, `"norm"` or `"softmax"`; any other
/// value is a 422 naming the field `op`, before the handler runs.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Sum,
    Mean,
    Norm,
    Softmax,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Computed {
    pub op: Op,
    pub count: usize,
    /// One number for `sum`, `mean` and `norm`; one per input for `softmax`.
    pub result: Vec<f64>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Info {
    pub service: &'static str,
    pub ops: [Op; 4],
    pub max_values: usize,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Health {
    pub status: &'static str,
}

/// `POST /compute` with `{"op": "mean", "values": [1, 2, 3]}`. A plain `fn`: the arithmetic runs
/// on the blocking pool, never on the threads that answer `/ping`.
pub fn run(op: Op, values: Vec<f64>) -> Result<Computed, HandlerError> {
    if values.is_empty() {
        return Err(HandlerError::client("`values` must not be empty"));
    }
    if values.len() > MAX_VALUES {
        return Err(HandlerError::client(format!(
            "at most {MAX_VALUES} values, got {}",
            values.len()
        )));
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err(HandlerError::client("`values` must be finite numbers"));
    }
    let sum: f64 = values.iter().sum();
    let result = match op {
        Op::Sum => vec![sum],
        Op::Mean => vec![sum / values.len() as f64],
        Op::Norm => vec![values.iter().map(|v| v * v).sum::<f64>().sqrt()],
        Op::Softmax => {
            let max = values.iter().copied().fold(f64::MIN, f64::max);
            let exp: Vec<f64> = values.iter().map(|v| (v - max).exp()).collect();
            let total: f64 = exp.iter().sum();
            exp.into_iter().map(|e| e / total).collect()
        }
    };
    Ok(Computed {
        op,
        count: values.len(),
        result,
    })
}

/// `GET /info`: what the service offers.
pub async fn info() -> Info {
    Info {
        service: "compute",
        ops: [Op::Sum, Op::Mean, Op::Norm, Op::Softmax],
        max_values: MAX_VALUES,
    }
}

/// `GET /health`.
pub async fn health() -> Health {
    Health { status: "ok" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_each_op() {
        let v = || vec![3.0, 4.0];
        assert_eq!(run(Op::Sum, v()).unwrap().result, vec![7.0]);
        assert_eq!(run(Op::Mean, v()).unwrap().result, vec![3.5]);
        assert_eq!(run(Op::Norm, v()).unwrap().result, vec![5.0]);
        let softmax = run(Op::Softmax, vec![1.0, 1.0]).unwrap();
        assert_eq!(softmax.result, vec![0.5, 0.5]);
        assert_eq!(softmax.count, 2);
    }

    #[test]
    fn bad_input_is_a_client_error() {
        assert_eq!(
            run(Op::Sum, vec![]),
            Err(HandlerError::client("`values` must not be empty"))
        );
        assert!(matches!(
            run(Op::Sum, vec![f64::NAN]),
            Err(HandlerError::Client(_))
        ));
    }

    #[test]
    fn ops_are_lowercase_on_the_wire() {
        let op: Op = serde_json::from_str("\"softmax\"").unwrap();
        assert_eq!(op, Op::Softmax);
    }

    #[tokio::test]
    async fn info_and_health() {
        assert_eq!(info().await.ops.len(), 4);
        assert_eq!(health().await.status, "ok");
    }
}
