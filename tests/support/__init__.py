"""What several test modules share: each helper in one place, named for what it does."""
