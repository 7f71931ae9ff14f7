"""joint-sanctions: joint reward-and-punishment (联合奖惩) credit checks."""
