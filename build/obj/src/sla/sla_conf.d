build/obj/src/sla/sla_conf.o: src/sla/sla_conf.c src/sla/sla.h
src/sla/sla.h:
