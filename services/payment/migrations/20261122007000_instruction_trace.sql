-- The W3C trace context an instruction was made in (the determination's, the run's, the grant's):
-- its status events (sent, accepted, settled, rejected, returned) continue that trace, so one
-- household's way from application to the bank stays one trace. NULL for instructions made
-- before it was kept: their status events start traces of their own, as before.
ALTER TABLE instructions ADD COLUMN traceparent TEXT, ADD COLUMN tracestate TEXT;
