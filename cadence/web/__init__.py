"""What the API and the pages share: who is calling, roles, parameters and error mapping."""
