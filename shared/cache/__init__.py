"""What the instances share through AzureWebJobsStorage: the store (store.py) and its circuit (health.py), the hubs'
call budget (budget.py), and the sweep that keeps the shared cache bounded (sweep.py). get_job's entries are in
shared/proxy/shared_tier.py."""
