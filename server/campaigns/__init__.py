"""Review campaigns (one a year) and the classification of each household review within one."""
