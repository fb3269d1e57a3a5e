"""Operations: Prometheus metrics and the reads behind them."""
