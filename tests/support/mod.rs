pub mod gsm8k;
