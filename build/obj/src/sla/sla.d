build/obj/src/sla/sla.o: src/sla/sla.c src/sla/sla.h src/cal/cal.h
src/sla/sla.h:
src/cal/cal.h:
