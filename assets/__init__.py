"""What backhub materializes per (customer, date): inventory, repositories, issues, wikis, and their checks."""
