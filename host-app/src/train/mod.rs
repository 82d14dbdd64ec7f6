//! Training on qtrain: MNIST, an MLP, and methods from the `f32` baseline to 16-bit fixed
//! point with stochastic rounding on the device (`qtrain train`).

pub mod checkpoint;
pub mod device;
pub mod loss;
pub mod methods;
pub mod metrics;
pub mod mnist;
pub mod net;
pub mod plot;
pub mod run;
pub mod seeds;
