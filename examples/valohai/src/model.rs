//! A churn model: logistic regression with fixed weights, standing in for weights a real
//! deployment would read from its model file.

use flash_runtime::HandlerError;
use serde::Serialize;

/// The features `POST /predict` takes, in the order of `Model::weights`.
pub const FEATURES: [&str; 3] = ["tenure_months", "monthly_charges", "support_calls"];

/// The endpoint's state, loaded once per worker.
#[derive(Debug)]
pub struct Model {
    pub version: String,
    weights: [f64; 3],
    bias: f64,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Prediction {
    pub churn_probability: f64,
    pub churn: bool,
    pub model_version: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Info {
    pub model_version: String,
    pub features: [&'static str; 3],
}

/// `init: model::load`. The version comes from the endpoint's `env` in flash.yaml.
pub fn load() -> Model {
    Model {
        version: std::env::var("MODEL_VERSION").unwrap_or_else(|_| "dev".to_string()),
        weights: [-0.08, 0.03, 0.6],
        bias: -1.5,
    }
}

/// `POST /predict` with `{"tenure_months": 3, "monthly_charges": 80.5, "support_calls": 4}`;
/// served at `$SCRIPT_NAME/predict`.
pub async fn predict(
    model: &Model,
    tenure_months: f64,
    monthly_charges: f64,
    support_calls: u32,
) -> Result<Prediction, HandlerError> {
    let features = [tenure_months, monthly_charges, f64::from(support_calls)];
    if let Some(i) = features.iter().position(|x| !x.is_finite() || *x < 0.0) {
        return Err(HandlerError::client(format!(
            "`{}` must be a non-negative number",
            FEATURES[i]
        )));
    }
    let z: f64 = model.bias
        + features
            .iter()
            .zip(model.weights)
            .map(|(x, w)| x * w)
            .sum::<f64>();
    let churn_probability = 1.0 / (1.0 + (-z).exp());
    Ok(Prediction {
        churn_probability,
        churn: churn_probability >= 0.5,
        model_version: model.version.clone(),
    })
}

/// `GET /info`; served at `$SCRIPT_NAME/info`.
pub async fn info(model: &Model) -> Info {
    Info {
        model_version: model.version.clone(),
        features: FEATURES,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        Model {
            version: "test".into(),
            ..load()
        }
    }

    #[tokio::test]
    async fn predicts_churn() {
        let m = model();
        let unhappy = predict(&m, 2.0, 95.0, 5).await.unwrap();
        assert!(unhappy.churn, "{unhappy:?}");
        let loyal = predict(&m, 60.0, 40.0, 0).await.unwrap();
        assert!(!loyal.churn, "{loyal:?}");
        assert!(loyal.churn_probability > 0.0 && loyal.churn_probability < 0.5);
        assert_eq!(loyal.model_version, "test");
    }

    #[tokio::test]
    async fn negative_features_are_client_errors() {
        assert_eq!(
            predict(&model(), -1.0, 10.0, 0).await,
            Err(HandlerError::client(
                "`tenure_months` must be a non-negative number"
            ))
        );
    }

    #[tokio::test]
    async fn info_lists_the_features() {
        let i = info(&model()).await;
        assert_eq!(i.features[2], "support_calls");
    }
}
