build/obj/src/cal/cal.o: src/cal/cal.c src/cal/cal.h src/cal/cal_int.h
src/cal/cal.h:
src/cal/cal_int.h:
