"""From recovery paths to the securities: dated cash, the tranche waterfall, repayment, break-even, scenarios."""
