"""Everything that glues flask-praetorian to Gatehouse's rules."""
