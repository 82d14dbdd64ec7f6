//! Softmax and cross-entropy on the host, in `f64` for every method: the ten logits per image
//! are read from wherever the network ran, and the gradient `p - onehot(label)` goes back.

/// The loss and accuracy of a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BatchOutcome {
    /// Sum over the batch of the cross-entropy, in nats.
    pub loss_sum: f64,
    /// Images whose largest logit is their label.
    pub correct: usize,
    /// Images in the batch.
    pub images: usize,
}

impl BatchOutcome {
    /// Adds another batch's counts.
    pub fn add(&mut self, o: BatchOutcome) {
        self.loss_sum += o.loss_sum;
        self.correct += o.correct;
        self.images += o.images;
    }

    /// Mean loss per image.
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.images.max(1) as f64
    }

    /// Fraction of images misclassified.
    pub fn error(&self) -> f64 {
        1.0 - self.correct as f64 / self.images.max(1) as f64
    }
}

/// Softmax cross-entropy of `logits` (`labels.len() x classes`, row-major). Returns the
/// outcome and, per element, `d loss_i / d logit_ij = softmax_ij - [j == label_i]` (the
/// gradient of the *sum* over the batch: the 1/batch of the mean goes into the step size).
/// A row's prediction is its first largest logit.
pub fn softmax_xent(logits: &[f64], labels: &[u8], classes: usize) -> (BatchOutcome, Vec<f64>) {
    assert_eq!(
        logits.len(),
        labels.len() * classes,
        "logits and labels disagree"
    );
    let mut grad = vec![0.0; logits.len()];
    let mut out = BatchOutcome {
        images: labels.len(),
        ..BatchOutcome::default()
    };
    for (i, (&label, row)) in labels.iter().zip(logits.chunks_exact(classes)).enumerate() {
        let label = usize::from(label);
        let (arg, max) =
            row.iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |(ai, am), (j, &v)| {
                    if v > am {
                        (j, v)
                    } else {
                        (ai, am)
                    }
                });
        out.correct += usize::from(arg == label);
        let sum: f64 = row.iter().map(|&v| (v - max).exp()).sum();
        out.loss_sum += sum.ln() - (row[label] - max);
        for (j, g) in grad[i * classes..(i + 1) * classes].iter_mut().enumerate() {
            *g = (row[j] - max).exp() / sum - f64::from(u8::from(j == label));
        }
    }
    (out, grad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_definition_and_a_numerical_derivative() {
        let logits = [1.0, -0.5, 2.0, 0.0, 0.0, 0.0];
        let labels = [2, 0];
        let (o, g) = softmax_xent(&logits, &labels, 3);
        let e: Vec<f64> = logits[..3].iter().map(|v: &f64| v.exp()).collect();
        let p2 = e[2] / e.iter().sum::<f64>();
        assert!((o.loss_sum - (-p2.ln() + 3f64.ln())).abs() < 1e-12);
        // A tie predicts the first class: row 2 is right by that rule.
        assert_eq!((o.correct, o.images), (2, 2));
        let h = 1e-6;
        for k in 0..6 {
            let mut up = logits;
            up[k] += h;
            let num = (softmax_xent(&up, &labels, 3).0.loss_sum - o.loss_sum) / h;
            assert!((num - g[k]).abs() < 1e-5, "{k}: {num} vs {}", g[k]);
        }
        let mut total = BatchOutcome::default();
        total.add(o);
        total.add(o);
        assert_eq!(total.images, 4);
        assert!((total.error() - 0.0).abs() < 1e-12);
    }
}
