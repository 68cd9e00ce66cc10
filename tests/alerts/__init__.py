"""Alert channels delivering to local receivers over real HTTP and SMTP."""
