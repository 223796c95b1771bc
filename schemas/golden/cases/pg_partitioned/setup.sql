CREATE TABLE public.measure (id int NOT NULL, region text NOT NULL, v numeric(10,2), PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE public.measure_eu PARTITION OF public.measure FOR VALUES IN ('eu');
CREATE TABLE public.measure_us PARTITION OF public.measure FOR VALUES IN ('us');
CREATE TABLE public.measure_other PARTITION OF public.measure DEFAULT;
INSERT INTO public.measure VALUES (1, 'eu', 1.50), (2, 'us', 2.25), (3, 'ap', 3.00);
